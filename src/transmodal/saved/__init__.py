"""What a fit learned, as data (:mod:`.spec`), and reading a saved model folder back (:mod:`.loader`)."""

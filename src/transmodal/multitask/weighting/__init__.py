"""Loss weighting and gradient surgery: how per-task losses train one shared network."""

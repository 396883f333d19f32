"""Ensemble member kinds: one file each, registered in :data:`transmodal.ensemble.members.base.MEMBERS`."""

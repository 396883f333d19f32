"""transmodal.multitask"""

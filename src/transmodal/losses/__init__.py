"""transmodal.losses"""

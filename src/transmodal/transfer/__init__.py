"""transmodal.transfer"""

"""transmodal.fusion"""

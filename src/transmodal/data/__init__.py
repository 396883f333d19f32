"""transmodal.data"""

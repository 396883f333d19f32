"""transmodal.encoders"""

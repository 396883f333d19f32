"""transmodal.engine"""

"""transmodal.alignment"""

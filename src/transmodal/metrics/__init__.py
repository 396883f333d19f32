"""transmodal.metrics"""

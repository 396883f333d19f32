"""transmodal.heads"""

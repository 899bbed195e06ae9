"""polyocr.formats"""

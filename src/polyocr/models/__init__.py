"""polyocr.models"""

"""polyocr.service"""

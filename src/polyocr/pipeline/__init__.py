"""polyocr.pipeline"""

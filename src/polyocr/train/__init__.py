"""polyocr.train"""

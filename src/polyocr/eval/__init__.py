"""polyocr.eval"""

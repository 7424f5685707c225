"""Other formats in and out. `onnx_import` reads an ONNX model as a spec (the `onnx` package
is imported only when an .onnx file is read; `pip install 'cnncalc[onnx]'`)."""

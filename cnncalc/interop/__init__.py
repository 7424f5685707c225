"""Other formats in and out. `onnx_import` reads an ONNX model as a spec (the `onnx` package
is imported only when an .onnx file is read; `pip install 'cnncalc[onnx]'`);
`pytorch_export` writes a spec out as PyTorch code (`cnncalc export`)."""

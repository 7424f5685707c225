"""Other frameworks' formats: a spec written out as PyTorch code (`cnncalc export`)."""

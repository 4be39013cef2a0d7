"""Detection: weakly supervised classifiers, the classifier test, and SIC/significance metrics."""

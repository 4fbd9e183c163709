"""Reports: PNG plots of a run's metrics, confusion matrix and misclassified examples."""

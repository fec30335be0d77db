"""Training: the progressive schedule, the LightningModule and its callbacks."""

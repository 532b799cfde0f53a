"""Casework: collectors' queues, one collector per case (claims), contact outcomes with checked
notes, and the account 360 view the workbench shows."""

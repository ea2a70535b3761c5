"""Governed reveal: keys, policy, signed grants and sealed disclosures."""

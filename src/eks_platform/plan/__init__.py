"""Capacity: what a node really offers to pods, by Karpenter's own arithmetic."""

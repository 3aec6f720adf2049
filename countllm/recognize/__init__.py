"""Exercise recognition and set segmentation from pose alone (a LiFT-style skeleton transformer)."""

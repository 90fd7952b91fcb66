"""Domain code: images, classes, shapes, geometry, recipes, splits, health, formats.

numpy and OpenCV only; never Qt, never torch.
"""

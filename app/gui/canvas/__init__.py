"""The slide canvas: a QGraphicsView of one slide, its tiled image and its cell boxes."""

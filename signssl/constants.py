"""Numbers several layers share, kept at the bottom so that none imports another for them.

``IMAGENET_MEAN`` / ``IMAGENET_STD``: the RGB mean / std of ImageNet for pixel values in
[0, 1], the input normalisation of SignRep's Hiera encoder.  The video datasets apply it
with ``normalize="imagenet"`` (:mod:`signssl.data.video`), the video encoders with
``normalize_input=True`` (:mod:`signssl.models.video_encoder`).
"""

#: ImageNet mean / std (RGB), the normalisation of SignRep's Hiera encoder
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

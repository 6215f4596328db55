"""Writes small valid seed inputs for the fuzz targets into corpus/<target>/ (git-ignored).

Run from nn-data/fuzz:  python make_seeds.py
"""
import gzip
import io
import os
import struct

from PIL import Image


def write(target, name, data):
    d = os.path.join("corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# CIFAR: two CIFAR-10 records; one CIFAR-100 record (2 label bytes).
px = bytes((i * 7) % 256 for i in range(3072))
write("cifar", "cifar10_2", bytes([3]) + px + bytes([9]) + px)
write("cifar", "cifar100_1", bytes([19, 99]) + px)


def idx(dims, data):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)


# IDX target: byte 0 chooses the split point between an images file and a labels file.
images = idx([2, 4, 4], range(32))
labels = idx([2], [3, 7])
for name, a in [("plain", images), ("gz", gzip.compress(images))]:
    k = round(len(a) * 255 / (len(a) + len(labels)))
    write("idx", f"pair_{name}", bytes([k]) + a + labels)
write("idx", "images", images)
write("idx", "labels_gz", gzip.compress(labels))

# Images: tiny PNG (RGB, gray, palette) and JPEG.
img = Image.new("RGB", (5, 4), (10, 20, 30))
for mode, fmt in [("RGB", "PNG"), ("L", "PNG"), ("P", "PNG"), ("RGB", "JPEG"), ("L", "JPEG")]:
    b = io.BytesIO()
    img.convert(mode).save(b, fmt)
    write("image", f"{mode}.{fmt.lower()}", b.getvalue())
print("seeds written")

"""Draw the application icon (a stained white cell among red cells) and write
it as PNG, ICO (Windows) and ICNS (macOS) into resources/icons/.  Run once
after changing the design; the results are committed."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"


def draw(size: int = 1024) -> Image.Image:
    scale = size / 1024
    icon = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    pen = ImageDraw.Draw(icon)

    def disc(cx: float, cy: float, r: float, fill: tuple[int, ...], outline: tuple[int, ...] | None = None,
             width: int = 0) -> None:
        box = [(cx - r) * scale, (cy - r) * scale, (cx + r) * scale, (cy + r) * scale]
        pen.ellipse(box, fill=fill, outline=outline, width=int(width * scale))

    pen.rounded_rectangle([40 * scale, 40 * scale, 984 * scale, 984 * scale], radius=200 * scale,
                          fill=(246, 232, 236, 255))
    for cx, cy in ((250, 260), (790, 230), (230, 780), (800, 800), (520, 880), (880, 520)):
        disc(cx, cy, 120, (226, 140, 150, 255), (200, 110, 122, 255), 10)
        disc(cx, cy, 55, (238, 176, 182, 255))
    disc(520, 500, 270, (206, 180, 226, 255), (150, 110, 180, 255), 12)  # cytoplasm
    for cx, cy, r in ((440, 440, 95), (590, 420, 85), (560, 590, 100), (420, 590, 70)):  # lobed nucleus
        disc(cx, cy, r, (92, 40, 130, 255))
    icon = icon.filter(ImageFilter.SMOOTH)
    return icon


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    icon = draw()
    icon.resize((256, 256), Image.Resampling.LANCZOS).save(ICONS / "hemalabel.png")
    icon.save(ICONS / "hemalabel.ico", sizes=[(16, 16), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])
    icon.save(ICONS / "hemalabel.icns")


if __name__ == "__main__":
    main()

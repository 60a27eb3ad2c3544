"""Specimen labels: a Code 128 barcode rendered server-side as inline SVG (python-barcode)."""

from __future__ import annotations

from django.utils.safestring import SafeString, mark_safe

# Sized for a 50 × 25 mm tube label: 0.25 mm modules, 10 mm bars.
_WRITER_OPTIONS = {
    "module_width": 0.25,
    "module_height": 10.0,
    "font_size": 8,
    "text_distance": 4.0,
    "quiet_zone": 2.5,
    "compress": False,
}


def code128_svg(code: str) -> SafeString:
    """The barcode as an ``<svg>`` element to inline in a page (no XML prolog)."""
    if not code.isascii() or not code.isalnum():
        raise ValueError("Specimen barcodes are ASCII letters and digits.")
    # Imported here: python-barcode logs about optional Pillow when imported, which every
    # management command would otherwise print.
    import barcode
    from barcode.writer import SVGWriter

    rendered = barcode.get("code128", code, writer=SVGWriter()).render(_WRITER_OPTIONS)
    text = rendered.decode("utf-8")
    # The library writes only our code's letters and digits and its own markup, so the SVG
    # is safe to inline once its XML declaration and DOCTYPE are dropped.
    return mark_safe(text[text.index("<svg") :])

"""A unit's own categories file (docs/categories.md), for the tests of both hosts."""

import json
from pathlib import Path
from typing import Any

TEXTS = {
    "ar": ("بيع الحيوانات المحمية", "بيع أو تهريب الحيوانات المهددة بالانقراض."),
    "fr": ("Vente d'animaux protégés", "Vente ou trafic d'espèces menacées."),
    "en": ("Sale of protected animals", "Sale or trafficking of endangered species."),
    "es": ("Venta de animales protegidos", "Venta o tráfico de especies amenazadas."),
}


def category(category_id: str, priority: str, tag: str = "") -> dict[str, Any]:
    """A complete entry; ``tag`` tells two entries' labels apart."""
    return {
        "id": category_id,
        "priority": priority,
        "languages": {
            language: {"label": f"{label}{tag}", "explanation": explanation}
            for language, (label, explanation) in TEXTS.items()
        },
    }


def custom_set() -> dict[str, Any]:
    """Three categories, the urgent one last in the file."""
    return {
        "categories": [
            category("wildlife", "low", " (1)"),
            category("fraud", "high", " (2)"),
            category("poaching_live", "urgent", " (3)"),
        ]
    }


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path

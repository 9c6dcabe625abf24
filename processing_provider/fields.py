"""Attribute fields of a given type on every QGIS from 3.22 to 4.x.

QGIS 3.38 made ``QgsField`` take a ``QMetaType.Type``; Qt 6 (QGIS 4) removed
``QVariant.Type``; QGIS 3.22 to 3.36 take only ``QVariant.Type`` (a ``QMetaType.Type``
raises TypeError there). The algorithms name a field's type once, as a ``FieldType``, and
this module gives the running QGIS the type it takes, found by trying once rather than by
version number.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from functools import lru_cache

from qgis.core import QgsField, QgsFields
from qgis.PyQt import QtCore


class FieldType(Enum):
    """The field types the plugin writes: (QMetaType.Type name, legacy QVariant name)."""

    STRING = ("QString", "String")
    INT = ("Int", "Int")
    DOUBLE = ("Double", "Double")
    DATETIME = ("QDateTime", "DateTime")


@lru_cache(maxsize=1)
def _takes_metatype() -> bool:
    """Whether this QGIS's ``QgsField`` takes a ``QMetaType.Type`` (3.38 and later)."""
    try:
        QgsField("probe", QtCore.QMetaType.Type.Int)
    except TypeError:
        return False
    return True


def qt_type(kind: FieldType) -> object:
    """The type value this QGIS's ``QgsField`` takes for ``kind``."""
    metatype_name, variant_name = kind.value
    if _takes_metatype():
        return getattr(QtCore.QMetaType.Type, metatype_name)
    # QGIS < 3.38 (Qt 5 only): the legacy QVariant.Type, looked up by name.
    return getattr(QtCore.QVariant, variant_name)


def new_field(name: str, kind: FieldType) -> QgsField:
    """A field named ``name`` of type ``kind``."""
    return QgsField(name, qt_type(kind))


def new_fields(spec: Iterable[tuple[str, FieldType]]) -> QgsFields:
    """The fields of ``spec`` ((name, type) pairs), in order."""
    fields = QgsFields()
    for name, kind in spec:
        fields.append(new_field(name, kind))
    return fields

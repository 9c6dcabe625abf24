"""Parameter widgets of the time-series algorithms' dialog: pick lists that know the
catalogue, its collections and their bands, the classes or bits of the collection's
mask (its profile's) and the index catalogue.

Each parameter stays a text parameter (``red,nir``, ``0,1,3,8,9,10``), so batch cells,
model inputs, ``processing.run`` and ``qgis_process`` take the same values; the widgets
only help to write them. The batch dialog gets a line of text, the model designer
QGIS's own widget (model inputs, outputs of other steps, expressions). The
catalogue's collections and bands are fetched in the background through QGIS's
network manager (its proxy and SSL settings), so the dialog never freezes, and a
catalogue that cannot be reached is said inline under the list.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from processing.gui.wrappers import DIALOG_MODELER, DIALOG_STANDARD, WidgetWrapper
from qgis.core import QgsNetworkAccessManager, QgsProcessingModelChildParameterSource, QgsSettings
from qgis.gui import QgsGui
from qgis.PyQt.QtCore import Qt, QUrl, pyqtSignal
from qgis.PyQt.QtNetwork import QNetworkReply, QNetworkRequest
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from sits_qgis.choices import spectral_indices
from sits_qgis.errors import SitsError
from sits_qgis.profiles import profiles_for_display as profiles
from sits_qgis.redact import shown_url
from sits_qgis.stac.bands import asset_bands
from sits_qgis.stac.catalogues import PRESETS, resolve_catalogue

from .checklist import Choice, NamesChecklist

#: How long a listing of the catalogue may take before the dialog says it failed.
FETCH_TIMEOUT_MS = 15_000
#: QGIS setting holding the STAC API addresses typed in the dialogs, the latest first.
RECENT_CATALOGUES = "sits/recent_catalogues"
#: How many typed addresses the catalogue list offers.
MAX_RECENT_CATALOGUES = 5


def recent_catalogues() -> list[str]:
    """The STAC API addresses typed in the dialogs' catalogue field, the latest first."""
    value = QgsSettings().value(RECENT_CATALOGUES, []) or []
    return [str(url) for url in ([value] if isinstance(value, str) else value)]


def remember_catalogue(text: str) -> None:
    """Keep an address typed in the catalogue field for the next dialogs; presets are
    listed anyway, and an address with a password or token is not kept (QGIS's settings
    are a plain file)."""
    url = (text or "").strip()
    presets = {c.url.lower() for c in PRESETS.values()} | {k.lower() for k in PRESETS}
    typed = url.startswith(("http://", "https://")) and url.lower().rstrip("/") not in presets
    if not typed or shown_url(url) != url:
        return
    recent = [url, *(u for u in recent_catalogues() if u != url)][:MAX_RECENT_CATALOGUES]
    QgsSettings().setValue(RECENT_CATALOGUES, recent)


class _TextWrapper(WidgetWrapper):
    """A widget in the algorithm dialog; a line of text in the batch dialog (its cells
    hold text); QGIS's own widget in the model designer, where the value may also be a
    model input, another step's output or an expression."""

    def createWidget(self, **kwargs: Any) -> QWidget:
        self.line: QLineEdit | None = None
        self.modeler: Any = None
        if self.dialogType == DIALOG_MODELER:
            self.modeler = QgsGui.processingGuiRegistry().createModelerParameterWidget(
                self.dialog.model, self.dialog.childId, self.parameterDefinition(),
                self.dialog.context,
            )  # fmt: skip
            return self.modeler
        if self.dialogType != DIALOG_STANDARD:
            self.line = QLineEdit()
            return self.line
        return self.rich_widget()

    def rich_widget(self) -> QWidget:
        raise NotImplementedError

    def setValue(self, value: Any) -> None:
        if self.modeler is not None:
            if not isinstance(value, QgsProcessingModelChildParameterSource):
                value = QgsProcessingModelChildParameterSource.fromStaticValue(value)
            self.modeler.setWidgetValue(value)
            return
        text = "" if value is None else str(value)
        if self.line is not None:
            self.line.setText(text)
        else:
            self.set_rich_value(text)

    def value(self) -> Any:
        if self.modeler is not None:
            return self.modeler.value()  # a source (or sources) of the model
        return self.line.text() if self.line is not None else self.rich_value()

    def set_rich_value(self, text: str) -> None:
        raise NotImplementedError

    def rich_value(self) -> str:
        raise NotImplementedError

    def sibling(self, wrappers: Sequence[Any], name: str) -> Any:
        """The wrapper of parameter ``name`` in the same dialog, if any."""
        return next((w for w in wrappers if w.parameterDefinition().name() == name), None)


class _ChecklistWrapper(_TextWrapper):
    """A ``NamesChecklist`` as the parameter's widget."""

    searchable = False

    def rich_widget(self) -> QWidget:
        self.checklist = NamesChecklist(self.searchable)
        self.checklist.set_choices(self.choices())
        return self.checklist

    def choices(self) -> list[Choice]:
        return []

    def set_rich_value(self, text: str) -> None:
        self.checklist.text.setText(text)

    def rich_value(self) -> str:
        return self.checklist.text.text()


class _MaskWrapper(_ChecklistWrapper):
    """A mask's classes or bits (``kind``) by name, those of the chosen collection's
    convention (its profile's): listed again when the collection changes."""

    kind = "classes"
    collection = ""
    profiled = False

    def postInitialize(self, wrappers: Sequence[Any]) -> None:
        collection = self.sibling(wrappers, "COLLECTION")
        if self.line is None and isinstance(collection, CollectionWrapper):
            collection.collection_changed.connect(self.list_mask)
            bands = self.sibling(wrappers, "BANDS")
            if isinstance(bands, BandsWrapper):
                bands.bands_listed.connect(self.guess_mask)
            catalogue = self.sibling(wrappers, "STAC_URL")
            if isinstance(catalogue, CatalogueWrapper):
                self.list_mask(catalogue.rich_value(), collection.value())

    def list_mask(self, catalogue: str, collection: str) -> None:
        """The mask of the collection's profile; without one, wait for its bands."""
        self.collection = str(collection or "")
        profile = profiles().collection(str(catalogue or ""), self.collection)
        self.profiled = profile is not None
        if profile is None:
            self.show_mask(None, None, self.tr("{} has no profile").format(self.collection))
            return
        self.show_mask(
            profile.mask_band,
            profile.mask,
            self.tr("{} has no cloud mask.").format(self.collection),
        )

    def guess_mask(self, keys: list[str]) -> None:
        """For a collection without a profile: the convention of a quality band known by
        its asset key, as the engine guesses it."""
        if self.profiled:
            return
        known = profiles()
        found = next(((k, known.mask_for_band(k)) for k in keys if known.mask_for_band(k)), None)
        if found is None:
            self.show_mask(
                None,
                None,
                self.tr("{} has no profile and no known quality band: type the {} to mask.").format(
                    self.collection, self.kind
                ),
            )
            return
        self.show_mask(*found, "", guessed=True)

    def show_mask(self, band: str | None, mask: Any, otherwise: str, guessed: bool = False) -> None:
        if band is None or mask is None or mask.kind != self.kind:
            self.checklist.set_choices([])
            if band is not None and mask is not None:
                otherwise = self.tr("The mask {} masks by {}.").format(band, mask.kind)
            self.checklist.say(otherwise)
            return
        default = set(mask.default)
        unit = "bit" if self.kind == "bits" else "class"
        choices = []
        for v, name in sorted(mask.labels.items()):
            label = f"{v}  {name}" + ("  (default)" if v in default else "")
            choices.append((str(v), label, f"{mask.title}: {unit} {v}"))
        self.checklist.set_choices(choices)
        how = self.tr(", guessed from its name") if guessed else ""
        self.checklist.say(
            self.tr("{} of {} ({}{}); empty = the defaults.").format(
                self.kind.capitalize(), band, mask.title, how
            )
        )


class MaskClassesWrapper(_MaskWrapper):
    """MASK_VALUES: the classes of the collection's mask band by name (Sentinel-2's
    SCL, MODIS pixel reliability...)."""

    kind = "classes"


class MaskBitsWrapper(_MaskWrapper):
    """MASK_BITS: the bits of the collection's quality band by name (Landsat's
    ``qa_pixel``, HLS' ``Fmask``...)."""

    kind = "bits"


class IndicesWrapper(_ChecklistWrapper):
    """INDICES: the Awesome Spectral Indices catalogue, searchable by name."""

    searchable = True

    def choices(self) -> list[Choice]:
        return [
            (name, f"{name}  {index['long_name']}", f"{index['formula']}  ({index['reference']})")
            for name, index in sorted(spectral_indices().items(), key=lambda kv: kv[0].lower())
        ]


class Fetcher:
    """One JSON document at a time from the catalogue, in the background; a newer
    request replaces an unanswered one."""

    def __init__(self) -> None:
        self.reply: QNetworkReply | None = None

    def cancel(self, *_: Any) -> None:
        """Forget the unanswered request, if any (its answer will be ignored); also a
        slot for ``destroyed``, whose argument it ignores."""
        pending, self.reply = self.reply, None
        if pending is not None:
            pending.abort()

    def get(self, url: str, done: Any, failed: Any) -> None:
        self.cancel()
        request = QNetworkRequest(QUrl(url))
        request.setRawHeader(b"Accept", b"application/json")
        request.setTransferTimeout(FETCH_TIMEOUT_MS)
        reply = QgsNetworkAccessManager.instance().get(request)
        self.reply = reply

        def finished() -> None:
            if reply is not self.reply:
                reply.deleteLater()
                return  # cancelled, or replaced by a newer request
            self.reply = None
            error = reply.error()
            body = bytes(reply.readAll())
            reply.deleteLater()
            if error != QNetworkReply.NetworkError.NoError:
                failed(reply.errorString())
                return
            try:
                done(json.loads(body))
            except ValueError:
                failed("the answer is not JSON (is this the address of a STAC API?)")

        reply.finished.connect(finished)


class CatalogueWrapper(_TextWrapper):
    """STAC_URL: the presets by title, the addresses typed in earlier dialogs, or any
    STAC API address typed in."""

    catalogue_changed = pyqtSignal(str)

    def rich_widget(self) -> QWidget:
        self.combo = QComboBox()
        self.combo.setEditable(True)
        for key, catalogue in PRESETS.items():
            self.combo.addItem(f"{catalogue.title} ({key})", key)
            self.combo.setItemData(
                self.combo.count() - 1, catalogue.url, Qt.ItemDataRole.ToolTipRole
            )
        for url in recent_catalogues():
            self.combo.addItem(url, url)
        self.combo.lineEdit().setPlaceholderText(self.tr("or the URL of a STAC API"))
        self.combo.currentTextChanged.connect(
            lambda _: self.catalogue_changed.emit(self.rich_value())
        )
        return self.combo

    def value(self) -> Any:
        """The parameter's value; an address typed in is remembered, since QGIS reads
        the value when the user runs the dialog (or copies its command), not as they
        type (the pick lists below read ``rich_value`` then)."""
        value = super().value()
        if self.line is None and self.modeler is None:
            remember_catalogue(value)
        return value

    def set_rich_value(self, text: str) -> None:
        index = self.combo.findData(text)
        if index >= 0:
            self.combo.setCurrentIndex(index)
        else:
            self.combo.setEditText(text)

    def rich_value(self) -> str:
        index = self.combo.findText(self.combo.currentText())
        return self.combo.itemData(index) if index >= 0 else self.combo.currentText().strip()


class CollectionWrapper(_TextWrapper):
    """COLLECTION: the catalogue's collections, listed in the background."""

    collection_changed = pyqtSignal(str, str)  # catalogue address, collection id

    def rich_widget(self) -> QWidget:
        self.fetcher = Fetcher()
        self.api_url = ""
        widget = QWidget()
        layout = QVBoxLayout(widget)
        layout.setContentsMargins(0, 0, 0, 0)
        self.combo = QComboBox()
        self.combo.setEditable(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setVisible(False)
        layout.addWidget(self.combo)
        layout.addWidget(self.status)
        self.combo.currentTextChanged.connect(self._changed)
        # an answer after the dialog is gone must not reach its deleted widgets
        widget.destroyed.connect(self.fetcher.cancel)
        return widget

    def postInitialize(self, wrappers: Sequence[Any]) -> None:
        catalogue = self.sibling(wrappers, "STAC_URL")
        if self.line is None and isinstance(catalogue, CatalogueWrapper):
            catalogue.catalogue_changed.connect(self.list_collections)
            self.list_collections(catalogue.rich_value())

    def list_collections(self, catalogue_text: str) -> None:
        """The profiled collections of a preset at once (also offline), then all that
        the catalogue lists."""
        try:
            catalogue = resolve_catalogue(catalogue_text)
        except SitsError as exc:
            self.fetcher.cancel()
            self._say(self.tr("Catalogue: {}").format(exc))
            return
        self.api_url = catalogue.url
        profiled = catalogue.profile.collections
        self._fill([{"id": key, "title": c.title} for key, c in profiled.items()])
        self._say(self.tr("Listing the collections of {}…").format(self.api_url))
        self.fetcher.get(f"{self.api_url}/collections", self._listed, self._failed)

    def _listed(self, document: Any) -> None:
        collections = document.get("collections", []) if isinstance(document, dict) else []
        self._fill(collections)
        self._say("" if collections else self.tr("{} lists no collection.").format(self.api_url))

    def _fill(self, collections: list[dict[str, Any]]) -> None:
        """The combo's list, keeping what is typed in it."""
        current = self.combo.currentText()
        self.combo.blockSignals(True)
        self.combo.clear()
        for collection in sorted(collections, key=lambda c: str(c.get("id", ""))):
            self.combo.addItem(str(collection.get("id", "")))
            self.combo.setItemData(
                self.combo.count() - 1, collection.get("title", ""), Qt.ItemDataRole.ToolTipRole
            )
        self.combo.setEditText(current)
        self.combo.blockSignals(False)
        self._changed(current)

    def _failed(self, reason: str) -> None:
        self._say(self.tr("Cannot list the collections of {}: {}").format(self.api_url, reason))

    def _say(self, message: str) -> None:
        self.status.setText(message)
        self.status.setVisible(bool(message))

    def _changed(self, text: str) -> None:
        if self.api_url and text.strip():
            self.collection_changed.emit(self.api_url, text.strip())

    def set_rich_value(self, text: str) -> None:
        self.combo.setEditText(text)

    def rich_value(self) -> str:
        return self.combo.currentText().strip()


class BandsWrapper(_ChecklistWrapper):
    """BANDS: the collection's single-band assets with asset key, band name, common
    name and resolution, read from its ``item_assets`` in the background."""

    bands_listed = pyqtSignal(list)  # the asset keys

    def rich_widget(self) -> QWidget:
        self.fetcher = Fetcher()
        widget = super().rich_widget()
        # an answer after the dialog is gone must not reach its deleted widgets
        widget.destroyed.connect(self.fetcher.cancel)
        return widget

    def postInitialize(self, wrappers: Sequence[Any]) -> None:
        collection = self.sibling(wrappers, "COLLECTION")
        if self.line is None and isinstance(collection, CollectionWrapper):
            collection.collection_changed.connect(self.list_bands)

    def list_bands(self, api_url: str, collection: str) -> None:
        self.checklist.say(self.tr("Reading the bands of {}…").format(collection))
        self.fetcher.get(
            f"{api_url}/collections/{collection}",
            lambda document: self._listed(collection, document),
            lambda reason: self.checklist.say(
                self.tr("Cannot read the bands of {}: {}").format(collection, reason)
            ),
        )

    def _listed(self, collection: str, document: Any) -> None:
        bands = asset_bands(document if isinstance(document, dict) else {})
        self.bands_listed.emit(list(bands))
        self.checklist.set_choices(
            [(band.key, band.label, band.common_name or band.key) for band in bands.values()]
        )
        self.checklist.say(
            ""
            if bands
            else self.tr("{} describes no band (item_assets); type asset keys.").format(collection)
        )

"""Tiny PDFs for the signing tests, written with pyHanko's own writer (no docgen)."""

from __future__ import annotations

import io

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import NameObject as N
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.writer import PdfFileWriter

from signing._compat import keep_metadata

XMP_PDFA2B = b"""<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
   <pdfaid:part>2</pdfaid:part>
   <pdfaid:conformance>B</pdfaid:conformance>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Test</rdf:li></rdf:Alt></dc:title>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>"""


def tiny_pdf(text: str = "Hello", *, pdfa: bool = False, pages: int = 1, filler: int = 0) -> bytes:
    """A valid PDF with ``pages`` pages of one text line each; optionally with the
    PDF/A-2b identification (XMP ``pdfaid``) and an output intent, like docgen's output,
    and ``filler`` bytes of incompressible stream data standing in for embedded fonts."""
    w = PdfFileWriter()
    font = w.add_object(
        generic.DictionaryObject(
            {N("/Type"): N("/Font"), N("/Subtype"): N("/Type1"), N("/BaseFont"): N("/Helvetica")}
        )
    )
    for i in range(pages):
        content = f"BT /F1 12 Tf 72 720 Td ({text} {i + 1}) Tj ET".encode("latin-1")
        w.insert_page(
            generic.DictionaryObject(
                {
                    N("/Type"): N("/Page"),
                    N("/MediaBox"): generic.ArrayObject([generic.NumberObject(x) for x in (0, 0, 595, 842)]),
                    N("/Contents"): w.add_object(generic.StreamObject(stream_data=content)),
                    N("/Resources"): generic.DictionaryObject(
                        {N("/Font"): generic.DictionaryObject({N("/F1"): font})}
                    ),
                }
            )
        )
    if filler:
        import os

        blob = generic.StreamObject(stream_data=os.urandom(filler))
        w.root[N("/QujatFiller")] = w.add_object(blob)
    if pdfa:
        meta = generic.StreamObject(
            {N("/Type"): N("/Metadata"), N("/Subtype"): N("/XML")}, stream_data=XMP_PDFA2B
        )
        w.root[N("/Metadata")] = w.add_object(meta)
        intent = generic.DictionaryObject(
            {
                N("/Type"): N("/OutputIntent"),
                N("/S"): N("/GTS_PDFA1"),
                N("/OutputConditionIdentifier"): generic.TextStringObject("sRGB IEC61966-2.1"),
            }
        )
        w.root[N("/OutputIntents")] = generic.ArrayObject([w.add_object(intent)])
    keep_metadata(w)  # keep our XMP packet verbatim, as signing does
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def change_page_text(pdf: bytes, new_text: bytes = b"BT /F1 12 Tf 72 720 Td (Changed) Tj ET") -> bytes:
    """Append an incremental update that replaces the first page's content stream."""
    w = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    page_ref = w.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    page[N("/Contents")] = w.add_object(generic.StreamObject(stream_data=new_text))
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)
    return pdf + out.getvalue() if not out.getvalue().startswith(b"%PDF") else out.getvalue()

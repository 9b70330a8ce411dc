"""The collection the emitters write: series, order, anchors, links, footnotes, each post's HTML."""

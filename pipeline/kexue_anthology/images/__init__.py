"""The posts' images: fetched only when asked (`fetcher`), kept by content in the cache (`store`)."""

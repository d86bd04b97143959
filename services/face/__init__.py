"""Face service: JPEG frames -> face emotion (Haar detection, quality score, expression model)."""

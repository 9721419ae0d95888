"""The contacts REST API (mounted under /api/ by crm.api_urls)."""

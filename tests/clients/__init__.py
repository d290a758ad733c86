"""Clients generated from the OpenAPI document, as an app's developers generate them."""

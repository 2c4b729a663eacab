"""The platform's own endpoints: dependency health, and the API's merged OpenAPI document."""

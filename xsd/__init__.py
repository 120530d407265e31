"""XSD schemas, WSDL and code lists shipped with the gateway (data package)."""

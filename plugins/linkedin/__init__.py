"""The LinkedIn network: member and organisation posts through the versioned Posts API."""

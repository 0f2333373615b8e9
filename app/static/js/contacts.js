// Contacts, timeline and import pages. No inline scripts (CSP).
// (422 responses are swapped in by app.js for every page.)

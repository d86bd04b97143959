"""Memory: writes finished turns to the database, summaries at session end, and applies retention."""

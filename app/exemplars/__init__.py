"""典型 chosen on evidence (issue 20, part 3): the ranked candidates, nominations and the 典型's page."""

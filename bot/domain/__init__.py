"""Value objects and DTOs every layer may use: validated inputs (`dto`), a parsed
`/members` filter (`member_filter`), the karma rules' parsed forms (`karma_rules`).
Nothing here imports the database, the services or aiogram, so repositories, services
and settings all import it downward."""

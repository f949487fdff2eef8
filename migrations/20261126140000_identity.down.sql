DROP TABLE sign_in_failures;
DROP TABLE refresh_tokens;
DROP TABLE memberships;
DROP TABLE users;

-- OIDC Core §5.5: the claims a client asked for one by one with the `claims` request parameter
-- (JSON: {"id_token": {...}, "userinfo": {...}}, only the claims Latchkey understands), carried from
-- the authorization request into the code and the grant, so they survive the code exchange,
-- refreshed ID tokens and UserInfo calls. NULL when the request had no `claims`.
ALTER TABLE authorization_codes ADD COLUMN claims TEXT;
ALTER TABLE grants ADD COLUMN claims TEXT;

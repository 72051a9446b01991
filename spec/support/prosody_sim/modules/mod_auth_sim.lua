-- An authentication provider for the simulator: accounts in the "accounts"
-- store, like mod_auth_internal_plain, without SASL. Provides what
-- core.usermanager calls on 0.12 and 13.
local accounts = module:open_store("accounts");

local provider = {};

function provider.test_password(username, password)
	local account = accounts:get(username);
	return account ~= nil and account.password == password or nil;
end

function provider.get_password(username)
	local account = accounts:get(username);
	return account and account.password;
end

function provider.set_password(username, password)
	local account, err = accounts:get(username);
	if not account then return nil, err or "Account not available."; end
	account.password = password;
	return accounts:set(username, account);
end

function provider.user_exists(username)
	local account = accounts:get(username);
	return account ~= nil;
end

function provider.users()
	return accounts:users();
end

function provider.create_user(username, password)
	return accounts:set(username, { password = password });
end

function provider.delete_user(username)
	return accounts:set(username, nil);
end

function provider.get_sasl_handler()
	return {};
end

module:provides("auth", provider);
